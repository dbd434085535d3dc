"""Moving CRM data in and out: CSV and Excel import with mapping and dry run, CSV export."""
