"""Settings, logging set-up and (later) dialplan loading; a leaf package: it imports no project code."""
