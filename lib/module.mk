# lib/ — libskiff.a: logging, utilities, quantities, RPC, TLS, PKI, protobuf.
LIB_OBJS := $(call objs_of,lib) $(BUILD)/gen/skiff.pb-c.o
$(LIBSKIFF): $(LIB_OBJS)
	@mkdir -p $(@D)
	@rm -f $@ && ar rcs $@ $^
