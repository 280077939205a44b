"""Root filesystems of containers (DESIGN.md "Root filesystem").

  probe.py   which driver this host and store allow: kernel overlay (in a user namespace, with
             userxattr), fuse-overlayfs, or vfs; decided by trying, cached per store.
  rootfs.py  per container: the upper/work dirs and the rl.rootfs.* annotations the runtime mounts
             from (overlay, fuse-overlayfs), or a flattened private copy (vfs); and removal of a
             container's files, entering the user namespace for files owned by subordinate ids.
"""
