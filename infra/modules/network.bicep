// The private network (parameter privateNetworking): a VNet with the Function App's integration
// subnet (delegated to Microsoft.App/environments, as Flex Consumption requires) and a subnet for
// private endpoints, one network security group on both, and the private DNS zones the private
// endpoints register in, linked to the VNet so the app resolves the storage and vault names to
// private addresses. Public-cloud zone names.
param location string
param tags object
param vnetName string
param vnetAddressPrefix string
@description('Inside vnetAddressPrefix: the Function App\'s integration subnet.')
param appSubnetPrefix string
@description('Inside vnetAddressPrefix: the private endpoints\' subnet.')
param privateEndpointSubnetPrefix string
@description('A NAT gateway for the app subnet\'s outbound internet traffic; empty = none (the subnet keeps default outbound access).')
param natGatewayId string

// Order matters: the outputs below index it.
var privateDnsZoneNames = [
  'privatelink.blob.core.windows.net'
  'privatelink.queue.core.windows.net'
  'privatelink.table.core.windows.net'
  'privatelink.vaultcore.azure.net'
]

resource nsg 'Microsoft.Network/networkSecurityGroups@2025-07-01' = {
  name: '${vnetName}-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2025-07-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        vnetAddressPrefix
      ]
    }
    subnets: [
      {
        // Flex Consumption: delegated to Microsoft.App/environments; no '_' in the name.
        name: 'snet-app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          networkSecurityGroup: {
            id: nsg.id
          }
          // The handler calls ARM, Entra ID, GitHub, SMTP and Application Insights over the
          // internet, and Flex Consumption routes all its outbound traffic into this subnet.
          defaultOutboundAccess: empty(natGatewayId)
          natGateway: empty(natGatewayId) ? null : {
            id: natGatewayId
          }
        }
      }
      {
        name: 'snet-private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
          networkSecurityGroup: {
            id: nsg.id
          }
          defaultOutboundAccess: false
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for zone in privateDnsZoneNames: {
  name: zone
  location: 'global'
  tags: tags
}]

resource links 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (zone, i) in privateDnsZoneNames: {
  parent: zones[i]
  name: '${vnetName}-link'
  location: 'global'
  tags: tags
  properties: {
    virtualNetwork: {
      id: vnet.id
    }
    registrationEnabled: false
  }
}]

output appSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'snet-app')
output endpointSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'snet-private-endpoints')
output blobZoneId string = zones[0].id
output queueZoneId string = zones[1].id
output tableZoneId string = zones[2].id
output vaultZoneId string = zones[3].id
