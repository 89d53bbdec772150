"""Questions the conversation tests ask, per language."""

DISINFECTION = {
    "en": "Can you disinfect my PC? It has a virus.",
    "nb": "Kan dere fjerne viruset fra PC-en min?",
    "sv": "Kan ni ta bort viruset från min dator?",
}
ONSITE = {
    "en": "Will one of your technicians come to our office to help us?",
    "nb": "Kan en tekniker komme på besøk til kontoret vårt og hjelpe oss?",
    "sv": "Kan en tekniker komma till vårt kontor och hjälpa oss på plats?",
}
