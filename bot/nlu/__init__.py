"""The numerics our NLU components use, free of Rasa: the classifier's fit
(softmax_fit, by our own L-BFGS in lbfgs), where the last fit is kept for the
next one to start from (last_fit), and the training embeddings' cache
(embedding_store). Rasa's side of them is in bot.rasa_addons.components."""
