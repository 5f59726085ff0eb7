#!/bin/sh
# Roll family app-a back by deprecating its newest image, m-b1, from a deploy script.
# ECS refuses: m-b1 is still shared with N (200002).
set -eu
echo "rolling back app-a"
aliyun ecs ModifyImageAttribute --region cn-hangzhou \
  --ImageId m-b1 --Status Deprecated
aliyun ecs RunInstances --RegionId cn-hangzhou --ImageFamily app-a --InstanceType ecs.g7.large
