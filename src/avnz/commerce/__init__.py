"""Commerce objects of a company: customers, the product catalog and orders."""
