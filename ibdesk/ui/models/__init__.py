"""Qt item models over the state stores."""
