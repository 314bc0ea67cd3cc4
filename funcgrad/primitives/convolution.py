"""Convolution: the ``conv_general_dilated`` primitive (being written)."""
__all__: list[str] = []
