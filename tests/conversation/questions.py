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
# Two questions in one message (answer contract, section 2a): disinfection, then
# opening hours; each is answered, in the order asked.
TWO_QUESTIONS = {
    "en": "Can you remove a virus from my PC, and are you open on Saturdays?",
    "nb": "Kan dere fjerne et virus fra PC-en min, og har dere åpent på lørdager?",
    "sv": "Kan ni ta bort ett virus från min dator, och har ni öppet på lördagar?",
}
