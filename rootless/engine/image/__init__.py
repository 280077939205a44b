"""Images: references, the content store, layer unpacking, registry client, archive formats."""
