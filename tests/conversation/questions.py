"""Questions the conversation tests ask, per language."""

DISINFECTION = {
    "en": "Can you disinfect my PC? It has a virus.",
    "nb": "Kan dere fjerne viruset fra PC-en min?",
    "sv": "Kan ni ta bort viruset från min dator?",
}
# Investigating how an infection happened: the answer that sells Kaspersky Incident
# Response (rules:4.2.14) and offers its request button. Training examples of
# scope_incident_investigation: the disinfection answer offers nothing to buy.
INCIDENT = {
    "en": "we need a forensic investigation of a cyber attack",
    "nb": "kan dere gjøre en forensisk analyse av den infiserte serveren?",
    "sv": "kan ni göra en forensisk analys efter ransomware-attacken?",
}
ONSITE = {
    "en": "Will one of your technicians come to our office to help us?",
    "nb": "Kan en tekniker komme på besøk til kontoret vårt og hjelpe oss?",
    "sv": "Kan en tekniker komma till vårt kontor och hjälpa oss på plats?",
}
