"""Model conversion: ONNX (torch dynamo exporter + onnxruntime static int8) and TFLite
(litert-torch + ai-edge-quantizer), each artifact verified and recorded in manifest.json.

    from edgefer.convert import ConvertOptions, convert
    result = convert(ConvertOptions(model="mobilenet_v1", calib="fer2013.csv", eval="fer2013.csv"))
"""

from edgefer.convert.api import ConvertOptions, ConvertResult, convert

__all__ = ["ConvertOptions", "ConvertResult", "convert"]
