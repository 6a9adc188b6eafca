"""questionnaire_import (being built)."""
