"""HTTP plumbing of a service: middleware, request dependencies, the server."""
