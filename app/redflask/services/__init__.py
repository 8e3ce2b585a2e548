"""Business logic and transactions; controllers call these, never the models directly."""
