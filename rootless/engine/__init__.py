"""The engine: containers and their lifecycle (ids, names, state, monitor, logs), with image/
(references, registries, the image store), net/ (network backends) and storage/ (root
filesystems) below it. The CLI calls in here; this package calls the runtime through OCI bundles."""
