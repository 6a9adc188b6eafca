"""Describe a sign-in's device and place coarsely: "Firefox on Windows", "203.0.113.0/24"."""

from __future__ import annotations

import ipaddress

BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"),
            ("CriOS/", "Chrome"), ("Chromium/", "Chromium"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
SYSTEMS = (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
           ("CrOS", "ChromeOS"), ("Mac OS X", "macOS"), ("Macintosh", "macOS"), ("Linux", "Linux"))


def describe_device(user_agent: str | None) -> str:
    """A short, human description of a User-Agent header, e.g. "Firefox on Windows"."""
    text = (user_agent or "")[:512]
    browser = next((name for marker, name in BROWSERS if marker in text), "")
    system = next((name for marker, name in SYSTEMS if marker in text), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"


def coarse_place(address: str | None) -> str:
    """The network an address belongs to (/24 for IPv4, /48 for IPv6), never the address itself."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
