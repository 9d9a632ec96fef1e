"""What every audience's pages share: the request's database session, access checks,
sign-in and CSRF, error pages, template filters, serving stored PDFs, the DSFR assets, and
the base templates and static files (`templates/`, `static/`)."""
