# hollow/ — skiff-hollow: fake nodes for scale tests of the brain, and bench clients.
$(eval $(call module,hollow,skiff-hollow))
