/* fakes.h — the messages a fake node and a bench client send, built one way
 * for skiff-hollow (its nodes' REGISTER, its deploy command) and for the
 * brain's tests (tests/lib's brain helpers and harness, the fake agents of
 * tests/integration/test_brain*.c), which link hollow.a.
 *
 * Each struct holds every part of its message: fill it with *_init, adjust
 * fields if needed, and send &x->req.base while it is in scope. Nothing is
 * allocated; strings are borrowed from the caller. */
#ifndef SKIFF_HOLLOW_FAKES_H
#define SKIFF_HOLLOW_FAKES_H

#include <stdint.h>

#include "skiff.pb-c.h"

/* A node's REGISTER, as an agent sends it. */
struct fake_register {
	Skiff__RegisterRequest req;
	Skiff__Node node;
	Skiff__ObjectMeta meta;
	Skiff__NodeStatus status;
	Skiff__ResourceList capacity;
	Skiff__KeyValue label, *labels[1];
};

/* REGISTER of node `name` (epoch 0: a first registration) with this
 * capacity (cpu in millicores, memory in bytes, pods) at address. */
void fake_register_init(struct fake_register *f, const char *name, int64_t cpu_milli,
			int64_t memory, int64_t pods, const char *address);
/* Give the node one label. */
void fake_register_label(struct fake_register *f, const char *key, const char *value);

/* What the brain answered to a REGISTER. */
struct fake_registered {
	uint64_t epoch;
	int heartbeat_ms;	/* 1000 when the brain gave none */
	char pod_cidr[32];	/* "10.244.N.0/24" */
	uint32_t pod_cidr_base; /* its first address, host order */
};

/* Read a RegisterResponse payload; -EBADMSG when it does not unpack. */
int fake_registered_read(const uint8_t *data, size_t len, struct fake_registered *ret);

/* An APPLY of a one-container deployment. */
struct fake_deployment {
	Skiff__ApplyRequest req;
	Skiff__Object obj;
	Skiff__Deployment d;
	Skiff__ObjectMeta meta, template_meta;
	Skiff__DeploymentSpec spec;
	Skiff__PodTemplate template_;
	Skiff__PodSpec pod;
	Skiff__Container container, *containers[1];
	Skiff__ResourceRequirements resources;
	Skiff__ResourceList requests;
	Skiff__KeyValue app, *apps[1];
	char *command[1];
};

/* Deployment `name` (selector and pod label app=name) of `replicas` pods
 * whose container "main" runs command in image; cpu_milli or memory not 0
 * set its requests. */
void fake_deployment_init(struct fake_deployment *f, const char *name, int replicas,
			  const char *image, const char *command, int64_t cpu_milli,
			  int64_t memory);

#endif
