# ctl/ — skiffctl: the command line.
$(eval $(call module,ctl,skiffctl))
