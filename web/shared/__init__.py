"""What every audience's pages share: the configuration and its two modes, the request's
database session, access checks, sign-in and CSRF, the security headers, error pages,
template filters, serving stored PDFs, the DSFR assets, and the base templates and static
files (`templates/`, `static/`)."""
