"""Deploy the lean runner + artifacts to devices and run it there (local, SSH, ADB transports).

`deploy()` copies and checks; `bench_remote()` returns a device's bench report;
`infer_remote()` returns a device's logits for on-board parity checks.
"""

from edgefer.deploy.deployment import Deployment, deploy, open_transport
from edgefer.deploy.remote import bench_remote, infer_remote

__all__ = ["Deployment", "bench_remote", "deploy", "infer_remote", "open_transport"]
