"""What the golden model, the RTL and the host all need to agree on, without torch or amaranth.

`corespec.identity`: the device identity a built core reports over the link (docs/link.md, IDENT).
"""
