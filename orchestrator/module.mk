# orchestrator/ — skiff-orchestrator: store, scheduler, controllers, API.
$(eval $(call module,orchestrator,skiff-orchestrator))
