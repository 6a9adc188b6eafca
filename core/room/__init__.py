"""The conversation room: the guide, the shared state (phase, prompt, timer, consent to record), access
and the Socket.IO events that change them. Media is the call provider's (core.providers.CallProvider)."""
