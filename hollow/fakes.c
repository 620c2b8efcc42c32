/* fakes.c — a fake node's REGISTER and a bench deployment's APPLY (see
 * fakes.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fakes.h"

void fake_register_init(struct fake_register *f, const char *name, int64_t cpu_milli,
			int64_t memory, int64_t pods, const char *address)
{
	*f = (struct fake_register){
		.req = SKIFF__REGISTER_REQUEST__INIT,
		.node = SKIFF__NODE__INIT,
		.meta = SKIFF__OBJECT_META__INIT,
		.status = SKIFF__NODE_STATUS__INIT,
		.capacity = SKIFF__RESOURCE_LIST__INIT,
		.label = SKIFF__KEY_VALUE__INIT,
	};
	f->meta.name = (char *)name;
	f->capacity.cpu_milli = cpu_milli;
	f->capacity.memory = memory;
	f->capacity.pods = pods;
	f->status.capacity = &f->capacity;
	f->status.address = (char *)address;
	f->node.metadata = &f->meta;
	f->node.status = &f->status;
	f->req.node = &f->node;
}

void fake_register_label(struct fake_register *f, const char *key, const char *value)
{
	f->label.key = (char *)key;
	f->label.value = (char *)value;
	f->labels[0] = &f->label;
	f->meta.labels = f->labels;
	f->meta.n_labels = 1;
}

int fake_registered_read(const uint8_t *data, size_t len, struct fake_registered *ret)
{
	Skiff__RegisterResponse *r = skiff__register_response__unpack(NULL, len, data);
	if (!r)
		return -EBADMSG;
	*ret = (struct fake_registered){ .epoch = r->epoch,
					 .heartbeat_ms =
					     r->heartbeat_ms > 0 ? r->heartbeat_ms : 1000 };
	snprintf(ret->pod_cidr, sizeof(ret->pod_cidr), "%s", r->pod_cidr ? r->pod_cidr : "");
	skiff__register_response__free_unpacked(r, NULL);
	char ip[32];
	snprintf(ip, sizeof(ip), "%s", ret->pod_cidr);
	char *slash = strchr(ip, '/');
	if (slash)
		*slash = '\0';
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) == 1)
		ret->pod_cidr_base = ntohl(a.s_addr);
	return 0;
}

void fake_deployment_init(struct fake_deployment *f, const char *name, int replicas,
			  const char *image, const char *command, int64_t cpu_milli, int64_t memory)
{
	*f = (struct fake_deployment){
		.req = SKIFF__APPLY_REQUEST__INIT,
		.obj = SKIFF__OBJECT__INIT,
		.d = SKIFF__DEPLOYMENT__INIT,
		.meta = SKIFF__OBJECT_META__INIT,
		.template_meta = SKIFF__OBJECT_META__INIT,
		.spec = SKIFF__DEPLOYMENT_SPEC__INIT,
		.template_ = SKIFF__POD_TEMPLATE__INIT,
		.pod = SKIFF__POD_SPEC__INIT,
		.container = SKIFF__CONTAINER__INIT,
		.resources = SKIFF__RESOURCE_REQUIREMENTS__INIT,
		.requests = SKIFF__RESOURCE_LIST__INIT,
		.app = SKIFF__KEY_VALUE__INIT,
	};
	f->meta.name = (char *)name;
	f->app.key = (char *)"app";
	f->app.value = (char *)name;
	f->apps[0] = &f->app;
	f->template_meta.labels = f->apps;
	f->template_meta.n_labels = 1;
	f->container.name = (char *)"main";
	f->container.image = (char *)image;
	f->command[0] = (char *)command;
	f->container.command = f->command;
	f->container.n_command = 1;
	if (cpu_milli || memory) {
		f->requests.cpu_milli = cpu_milli;
		f->requests.memory = memory;
		f->resources.requests = &f->requests;
		f->container.resources = &f->resources;
	}
	f->containers[0] = &f->container;
	f->pod.containers = f->containers;
	f->pod.n_containers = 1;
	f->template_.metadata = &f->template_meta;
	f->template_.spec = &f->pod;
	f->spec.replicas = replicas;
	f->spec.selector = f->apps;
	f->spec.n_selector = 1;
	f->spec.template_ = &f->template_;
	f->d.metadata = &f->meta;
	f->d.spec = &f->spec;
	f->obj.deployment = &f->d;
	f->req.object = &f->obj;
}
