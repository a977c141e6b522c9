"""hippo's built-in pipeline specs (`NAME.toml`), shipped as package data so that
`hippo ask --pipeline NAME` finds them in a regular (non-editable) install too."""
