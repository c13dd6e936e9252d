"""Recovery assistant: judge a complaint, recall the customer, draft a recovery reply."""
