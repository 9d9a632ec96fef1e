"""The administrators' pages: campaign files and dates, instructor accounts, the state
machine's page."""
