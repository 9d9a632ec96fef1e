"""The déposant's pages: campaigns, dossiers volet by volet, pieces, confirmation and
deposit, decision, maintien and prise de poste, priorities."""
