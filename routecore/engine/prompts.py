"""The system prompts: what the engine plays where a flow names no prompt of its own (F2).

An adapter maps these names to its own sound files (``docs/engine.md``).
"""

from __future__ import annotations

__all__ = ["SYSTEM_PROMPTS"]

SYSTEM_PROMPTS: dict[str, str] = {
    "transfer": "sys_transfer",  # F2: "please hold, your call is being transferred"
    "invalid": "sys_invalid_key",  # B14: a key the menu does not know
    "extension": "sys_enter_extension",  # V1: "please enter the extension, then #"
    "invalid_extension": "sys_invalid_extension",  # V1: "that extension does not exist"
    "voicemail_offer": "sys_voicemail_offer",  # B5: "press 1 to leave a message, 2 to wait"
    "voicemail": "sys_voicemail",  # B5: "please leave a message after the tone"
    "password": "sys_conference_password",  # V4: "please enter the conference password"
}
"""The system prompts the engine plays where the flow names none (adapters map the names)."""
