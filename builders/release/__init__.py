"""What describes and checks a built release: manifest, card, changelog, diff, verify."""
