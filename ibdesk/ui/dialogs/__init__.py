"""Dialogs (all non-modal: nothing may block the event loop the kill switch runs on)."""
