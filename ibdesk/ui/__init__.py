"""The Qt user interface: models, panels, dialogs and the main window."""
