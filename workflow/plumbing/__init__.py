"""The plumbing every other package stands on: database engine and transactions, the
clock, Paris dates and deadlines, identifiers with their check digits, postal codes with
their communes, stored files (PDF checks included) and the domain's errors.

May import: nothing else of `workflow`.
"""
