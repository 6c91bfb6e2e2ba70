locals {
  name        = "${var.environment}-checkout"
  is_prod     = var.environment == "prod"
  wait_minutes = local.is_prod ? 30 : 5
  health = {
    interval = 15
    healthy  = 3
  }
}

resource "aws_ecs_task_definition" "checkout" {
  family                   = local.name
  cpu                      = local.is_prod ? "1024" : "512"
  memory                   = local.is_prod ? "2048" : "1024"
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  container_definitions = jsonencode([{
    name  = "checkout"
    image = "example/checkout:1.0"
  }])
}

resource "aws_lb_target_group" "blue" {
  name                 = "${local.name}-blue"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 45
  slow_start           = local.is_prod ? 60 : 0

  health_check {
    path                = "/ready"
    interval            = local.health.interval
    timeout             = 5
    healthy_threshold   = local.health.healthy
    unhealthy_threshold = 2
  }

  stickiness {
    type    = "lb_cookie"
    enabled = false
  }
}

resource "aws_lb_target_group" "green" {
  name                 = "${local.name}-green"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 45
  slow_start           = local.is_prod ? 60 : 0

  health_check {
    path                = "/ready"
    interval            = local.health.interval
    timeout             = 5
    healthy_threshold   = local.health.healthy
    unhealthy_threshold = 2
  }
}

resource "aws_ecs_service" "checkout" {
  name            = local.name
  cluster         = data.aws_ecs_cluster.main.arn
  task_definition = aws_ecs_task_definition.checkout.arn
  desired_count   = var.desired_count
  launch_type     = "FARGATE"

  deployment_controller {
    type = "CODE_DEPLOY"
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.blue.arn
    container_name   = "checkout"
    container_port   = 8080
  }

  lifecycle {
    ignore_changes = [task_definition, load_balancer]
  }
}

resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "${local.name}-5xx-rate"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.alarm_threshold_percent
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "e1"
    expression  = "100 * m1 / m2"
    label       = "5xx rate"
    return_data = true
  }

  metric_query {
    id = "m1"
    metric {
      metric_name = "HTTPCode_Target_5XX_Count"
      namespace   = "AWS/ApplicationELB"
      period      = 60
      stat        = "Sum"
      dimensions = {
        TargetGroup  = aws_lb_target_group.green.arn_suffix
        LoadBalancer = "app/checkout/0123456789abcdef"
      }
    }
  }

  metric_query {
    id = "m2"
    metric {
      metric_name = "RequestCount"
      namespace   = "AWS/ApplicationELB"
      period      = 60
      stat        = "Sum"
      dimensions = {
        TargetGroup  = aws_lb_target_group.green.arn_suffix
        LoadBalancer = "app/checkout/0123456789abcdef"
      }
    }
  }
}

resource "aws_codedeploy_deployment_config" "canary" {
  deployment_config_name = "${local.name}-canary"
  compute_platform       = "ECS"

  traffic_routing_config {
    type = "TimeBasedCanary"

    time_based_canary {
      interval   = local.is_prod ? 15 : 5
      percentage = var.canary_percentage
    }
  }
}

resource "aws_codedeploy_app" "checkout" {
  compute_platform = "ECS"
  name             = local.name
}

resource "aws_codedeploy_deployment_group" "checkout" {
  app_name               = aws_codedeploy_app.checkout.name
  deployment_group_name  = local.name
  deployment_config_name = aws_codedeploy_deployment_config.canary.id
  service_role_arn       = "arn:aws:iam::123456789012:role/codedeploy"

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
  }

  alarm_configuration {
    alarms  = [aws_cloudwatch_metric_alarm.error_rate.alarm_name]
    enabled = true
  }

  blue_green_deployment_config {
    deployment_ready_option {
      action_on_timeout = "CONTINUE_DEPLOYMENT"
    }

    terminate_blue_instances_on_deployment_success {
      action                           = "TERMINATE"
      termination_wait_time_in_minutes = local.wait_minutes
    }
  }

  deployment_style {
    deployment_option = "WITH_TRAFFIC_CONTROL"
    deployment_type   = "BLUE_GREEN"
  }

  ecs_service {
    cluster_name = "main"
    service_name = aws_ecs_service.checkout.name
  }

  load_balancer_info {
    target_group_pair_info {
      prod_traffic_route {
        listener_arns = ["arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/checkout/0123456789abcdef/1111111111111111"]
      }

      target_group {
        name = aws_lb_target_group.blue.name
      }

      target_group {
        name = aws_lb_target_group.green.name
      }
    }
  }
}
