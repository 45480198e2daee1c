"""Settlement (结算): labour, parts and travel of a closed ticket, in Decimal yuan."""
