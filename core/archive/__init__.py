"""The archive: consent per person, the approved description, BagIt packages, deposits, publication."""
