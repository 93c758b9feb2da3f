"""The sandbox's runtime half: running applications and forwarding requests to them."""
