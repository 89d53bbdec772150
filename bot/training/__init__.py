"""What trainers work with: the training examples, the evaluation sets kept apart
from them, and (to come) the inbox, phrase adding and fast retraining."""
