"""Report schemas, sections and rendering (bench, pipeline, op profile, accelerators)."""
