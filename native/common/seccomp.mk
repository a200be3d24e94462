# seccomp.mk: makes build/container-seccomp.h, the BPF program of the container's seccomp
# filter, from seccomp-profile.txt with seccomp-gen (which alone links libseccomp, at build
# time). Included by the Makefiles of the helpers that load the filter (arbor-exec, arbor-tar,
# which add -I../common/build); native/Makefile runs it first, so that two helpers built in
# parallel never make it at once. build/ is kept out of native/build, whose every file is a helper.
SECCOMP_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
SECCOMP_OUT := $(SECCOMP_DIR)/build
SECCOMP_HEADER := $(SECCOMP_OUT)/container-seccomp.h

$(SECCOMP_OUT)/seccomp-gen: $(SECCOMP_DIR)/seccomp-gen.c
	@mkdir -p $(SECCOMP_OUT)
	$(CC) -Wall -Wextra -O2 -o $@ $< -lseccomp

$(SECCOMP_HEADER): $(SECCOMP_OUT)/seccomp-gen $(SECCOMP_DIR)/seccomp-profile.txt
	$(SECCOMP_OUT)/seccomp-gen $(SECCOMP_DIR)/seccomp-profile.txt $@
