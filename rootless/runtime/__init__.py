"""The OCI runtime: takes a bundle (config.json + rootfs) and makes the container. Knows nothing of
images, registries or networks. The API is rootless.runtime.container (one module per lifecycle
operation behind it)."""
