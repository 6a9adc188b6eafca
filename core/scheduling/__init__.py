"""Scheduling: from a match to a booked conversation, with reminders and no-show defence."""
