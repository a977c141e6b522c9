"""`hippo serve`: the HTTP API (`app`), its request batching (`batcher`), its gate for API keys
and body sizes (`guard`) and the Python client of a server (`client`). Needs the `serve` extra."""
