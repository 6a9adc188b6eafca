"""Recording processing: sniffing uploaded chunks and turning the tracks into archival and access audio files."""
