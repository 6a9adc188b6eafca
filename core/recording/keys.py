"""Blob keys of recordings. Every key is made here from database ids and checksums, never from input."""

from __future__ import annotations


def chunk_key(recording_id: int, track_id: int, sequence: int, sha256: str) -> str:
    """Where a browser's chunk is held; the checksum in the name keeps a conflicting upload apart."""
    return f"recordings/{recording_id}/tracks/{track_id}/chunks/{sequence:06d}-{sha256[:16]}"


def original_key(recording_id: int, track_id: int, extension: str) -> str:
    """The byte-exact original of a track (its chunks in order, or the provider's file)."""
    return f"recordings/{recording_id}/tracks/{track_id}/original.{extension}"


def output_key(recording_id: int, name: str, extension: str) -> str:
    """A processed file of the recording (name master, flac or access): master.wav, master.flac,
    access.opus or access.mp3."""
    stem = "master" if name == "flac" else name
    return f"recordings/{recording_id}/{stem}.{extension}"
