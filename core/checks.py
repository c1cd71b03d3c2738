"""System checks for what the machine must provide (fonts, HarfBuzz subsetting)."""
