# agent/ — skiff-agent: the node daemon.
$(eval $(call module,agent,skiff-agent))
