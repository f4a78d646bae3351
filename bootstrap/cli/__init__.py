"""The `kbs` command: click commands only. Each parses, calls one function of a lower layer, prints."""
