# The configuration behind images.plan.json, for --terraform-dir (only the resource blocks matter).
resource "alicloud_image" "app" {
  instance_id  = "i-build1"
  image_family = "app-b"
  image_name   = "app-b-v1"
}

resource "alicloud_image_share_permission" "app" {
  image_id   = alicloud_image.app.id
  account_id = var.sharee
}

resource "alicloud_image" "old" {
  instance_id = "i-old"
}
